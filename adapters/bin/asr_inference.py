"""ESPnet's ASR inference (``espnet2.bin.asr_inference``) with our classes registered.

Adds one option, ``--ctc_greedy true``: best-path CTC decoding (argmax per
frame, repeats merged, blanks dropped) instead of ESPnet's beam search; the
model, tokenizer, data loading and output files are ESPnet's.  Transducer
models decode with ESPnet's transducer beam search (``--beam_size``).
"""
import sys
from itertools import groupby

from adapters.espnet.register import register_asr


def _greedy_speech2text():
    import torch
    from espnet.nets.beam_search import Hypothesis
    from espnet2.bin import asr_inference

    class GreedyCTCSpeech2Text(asr_inference.Speech2Text):
        def _decode_single_sample(self, enc):
            model = self.asr_model
            if model.ctc is None or model.use_transducer_decoder:
                raise ValueError("--ctc_greedy true needs a CTC model (no transducer decoder)")
            best = model.ctc.argmax(enc.unsqueeze(0))[0].tolist()
            tokens = [t for t, _ in groupby(best) if t != model.blank_id]
            # sos + tokens + eos: the layout ESPnet's post-processing strips
            yseq = torch.tensor([model.sos] + tokens + [model.eos])
            hyp = Hypothesis(yseq=yseq, score=0.0)
            token = self.converter.ids2tokens(tokens)
            text = self.tokenizer.tokens2text(token) if self.tokenizer is not None else None
            return [(text, token, tokens, hyp)]

    return GreedyCTCSpeech2Text


def main(cmd=None):
    register_asr()
    from espnet2.bin import asr_inference
    from espnet2.utils.types import str2bool

    parser = asr_inference.get_parser()
    parser.add_argument("--ctc_greedy", type=str2bool, default=False,
                        help="best-path CTC decoding instead of beam search")
    args = parser.parse_args(cmd)
    print(" ".join(sys.argv), file=sys.stderr)
    kwargs = vars(args)
    kwargs.pop("config", None)
    if kwargs.pop("ctc_greedy"):
        asr_inference.Speech2Text = _greedy_speech2text()
    asr_inference.inference(**kwargs)


if __name__ == "__main__":
    main()
