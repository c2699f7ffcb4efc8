"""ESPnet's speaker preprocessor with its training crop fixed for NumPy 2.

ESPnet 202511 computes the crop start as a one-element array and calls
``int()`` on it, which NumPy >= 2.3 refuses ("only 0-dimensional arrays can be
converted to Python scalars").  Everything else is ESPnet's own code.
"""
from __future__ import annotations

import random

import numpy as np
from espnet2.train.preprocessor import SpkPreprocessor


class SpkCropPreprocessor(SpkPreprocessor):
    def _speech_process(self, data):
        if not self.train:
            return super()._speech_process(data)
        audio = data["speech"]
        if len(audio) < self.target_duration:  # repeat short utterances, as ESPnet does
            audio = np.pad(audio, (0, self.target_duration - len(audio) + 1), "wrap")
        start = int(random.random() * (len(audio) - self.target_duration))
        data["speech"] = audio[start: start + self.target_duration]
        if self.noise_apply_prob > 0 or self.rir_apply_prob > 0:
            data["speech"] = self._apply_data_augmentation(data["speech"])
        return data
