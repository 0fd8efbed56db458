"""ramvid: a trainable re-implementation of RaMViD (Random-Mask Video Diffusion)."""

__version__ = "0.1.0"
