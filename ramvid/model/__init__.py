"""The RaMViD network: improved-diffusion's U-Net with 3D convolutions (knows nothing of diffusion)."""
from ramvid.model.attention import AttentionBlock, legacy_qkv_attention
from ramvid.model.loading import load_state_dict_checked, state_dict_mismatch, strip_ddp_prefix
from ramvid.model.unet import UNet3D, build_model, count_parameters

__all__ = [
    "AttentionBlock",
    "UNet3D",
    "build_model",
    "count_parameters",
    "legacy_qkv_attention",
    "load_state_dict_checked",
    "state_dict_mismatch",
    "strip_ddp_prefix",
]
