"""The report page as a Jinja2 template (autoescaped: paths, labels and row cells are never HTML).

Kept as a Python string rather than a .j2 file so it ships with the code and needs no package-data
entry. Sections whose data is empty are left out, never shown empty. No script: the page is static.
"""
from __future__ import annotations

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="ramvid-bench report">
<title>{{ title }}</title>
<style>
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; max-width: 1280px;
       padding: 1em 2em 3em; color: #1b1b1b; background: #fff; }
h1 { font-size: 1.6em; margin-bottom: .2em; } h2 { border-bottom: 1px solid #ddd; padding-bottom: .2em;
     margin-top: 2em; } h3 { margin: 1.2em 0 .4em; }
.meta { color: #555; font-size: .9em; } code { font-size: .92em; }
nav a { margin-right: 1.2em; }
table { border-collapse: collapse; margin: .4em 0 1em; font-size: .93em; }
th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: left; vertical-align: top; }
th { background: #f3f5f8; }
table.card th { width: 9em; font-weight: 600; }
.value { font-size: 1.5em; font-weight: 600; margin: .3em 0; }
.run { border: 1px solid #e2e2e2; border-radius: 6px; padding: .2em 1.2em 1em; margin: 1.2em 0; }
.legend span { display: inline-block; margin-right: 1.4em; }
.swatch { display: inline-block; width: .9em; height: .9em; border: 1px solid #333; vertical-align: -1px;
          margin-right: .35em; }
.note { color: #8a4b00; }
figure { margin: .8em 0; } figcaption { color: #555; font-size: .88em; }
.top { display: flex; flex-wrap: wrap; gap: 0 2.5em; align-items: flex-start; }
.top > div { max-width: 760px; } .top figure { margin-top: 1em; }
td { overflow-wrap: anywhere; }
.plots { display: flex; flex-wrap: wrap; gap: 1em; } .plots figure { margin: 0; }
img { max-width: 100%; image-rendering: pixelated; } img.plot { image-rendering: auto; }
details summary { cursor: pointer; color: #333; }
.provenance p { margin: .3em 0; } .field { display: inline-block; margin: 0 1.4em .25em 0; }
</style>
</head>
<body>
<h1>{{ title }}</h1>
<p class="meta">Written {{ written }} by <code>ramvid-bench report</code> (git {{ git }}){% if results %}
from <code>{{ results }}</code>{% endif %}.</p>
<nav>{% if runs %}<a href="#runs">Runs ({{ runs|length }})</a>{% endif %}
{% if tables %}<a href="#results">Results table</a>{% endif %}
{% if nfe_plots %}<a href="#nfe">{{ metric_name }} vs NFE</a>{% endif %}
{% if step_plots %}<a href="#steps">{{ metric_name }} vs training step</a>{% endif %}
{% if losses %}<a href="#training">Training loss</a>{% endif %}</nav>
{% if runs %}
<h2 id="runs">Runs</h2>
<p class="legend">Sample grids: <span><i class="swatch" style="background: rgb{{ colours.known }}"></i>known
(given to the model, the same in both rows)</span><span><i class="swatch"
style="background: rgb{{ colours.generated }}"></i>generated</span><span><i class="swatch"
style="background: rgb{{ colours.real }}"></i>real, hidden from the model</span><span><i class="swatch"
style="background: rgb{{ colours.scored }}"></i>frame scored by the metric</span></p>
<p class="meta">Frame numbers count from 0, as the protocol's known-frame indices do.</p>
{% for run in runs %}
<section class="run" id="run-{{ loop.index }}">
<h3>{{ run.title }}</h3>
<p class="meta"><code>{{ run.work_dir }}</code></p>
<div class="top"><div>
{% if run.value %}<p class="value">{{ run.value }}</p>{% endif %}
{% if run.uncertainty %}<table class="card uncertainty">{% for k, v in run.uncertainty %}<tr><th>{{ k }}</th>
<td>{{ v }}</td></tr>{% endfor %}</table>{% endif %}
<table class="card">{% for k, v in run.card %}<tr><th>{{ k }}</th><td>{{ v }}</td></tr>{% endfor %}</table>
{% for note in run.notes %}<p class="note">{{ note }}</p>{% endfor %}</div>
{% if run.animation %}<figure><img class="animation" src="{{ run.animation }}"
alt="animation of {{ run.name }}">
<figcaption>Real (top) over generated, animated at 4 frames a second.</figcaption></figure>{% endif %}
</div>
{% if run.strip %}<figure><img class="strip" src="{{ run.strip }}" alt="frames of {{ run.name }}">
<figcaption>Every frame of sample 0 of the same videos: real, then generated, for each
video.</figcaption></figure>{% endif %}
{% if run.provenance %}<details class="provenance" open><summary>Provenance (the results row)</summary>
<p>{% for k, v in run.provenance %}<span class="field"><b>{{ k }}</b> <code>{{ v }}</code></span>
{% endfor %}</p></details>{% endif %}
</section>
{% endfor %}
{% endif %}
{% if tables %}
<h2 id="results">Results table</h2>
<p class="meta">As <code>ramvid-bench table</code> renders the same rows: the newest run per method.</p>
{% for t in tables %}<h3>{{ t.title }}</h3>
<table class="results"><thead><tr>{% for h in t.header %}<th>{{ h }}</th>{% endfor %}</tr></thead><tbody>
{% for r in t.body %}<tr>{% for c in r %}<td>{{ c }}</td>{% endfor %}</tr>{% endfor %}
</tbody></table>{% endfor %}
{% endif %}
{% if nfe_plots %}
<h2 id="nfe">{{ metric_name }} against NFE</h2>
<div class="plots">{% for p in nfe_plots %}<figure><img class="plot" src="{{ p.uri }}" alt="{{ p.title }}">
</figure>{% endfor %}</div>
{% endif %}
{% if step_plots %}
<h2 id="steps">{{ metric_name }} against training step</h2>
<div class="plots">{% for p in step_plots %}<figure><img class="plot" src="{{ p.uri }}" alt="{{ p.title }}">
</figure>{% endfor %}</div>
{% endif %}
{% if losses %}
<h2 id="training">Training loss</h2>
{% for p in losses %}<figure><img class="plot" src="{{ p.uri }}" alt="{{ p.title }}">
<figcaption>{{ p.title }}</figcaption></figure>{% endfor %}
{% endif %}
</body>
</html>
"""
