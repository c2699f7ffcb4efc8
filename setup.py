"""adapter recipes for self-supervised speech models (HRA, A-AF, ELP and baselines)."""
from setuptools import find_packages, setup

# Pins are the combination checked to install and work together on Python 3.11
# (see README "Install"): s3prl 0.4.18 cannot import with torchaudio 2.11, the
# espnet-s3prl fork can and is imported as ``s3prl``.
install_requires = [
    "torch==2.11.0",
    "torchaudio==2.11.0",
    "espnet==202511",
    "espnet-s3prl==2026.5.14",
    "kaldiio>=2.18",
    "sentencepiece<0.3,>=0.1.94",
    "soundfile>=0.12",
    "tensorboard>=2.14",
    "matplotlib>=3.7",
    "torcheval>=0.0.7",
    "jiwer>=3.0",
    "scikit-learn>=1.3",
]

setup(
    name="speech-adapters",
    version="0.1.0",
    description=__doc__,
    python_requires=">=3.11,<3.12",
    packages=find_packages(include=["adapters", "adapters.*"]),
    package_data={"adapters.synth": ["words_en.txt"]},
    install_requires=install_requires,
    extras_require={"test": ["pytest>=7"]},
)
