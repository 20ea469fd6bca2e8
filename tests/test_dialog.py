"Dialog pieces that users call directly: the BLEU scorers and the errors of the SwDA reader."
import json, math
import pytest
from seqvae.dialog import sentence_bleu
from seqvae.dialog.data import read_swda
from seqvae.sources import DataError

def test_sentence_bleu_old_and_new_differ_as_derived():
    # "okay" against "okay": today's NLTK 1, 3^-1/2, 1/3, 3^-3/2; NLTK 3.4.5 divides by log(1) = 0, scored 0
    want = (1.0, 3 ** -0.5, 1 / 3, 3 ** -1.5)
    for n in range(1, 5):
        assert math.isclose(sentence_bleu([["okay"]], ["okay"], n, compat="nltk-now"), want[n - 1], rel_tol=1e-12)
        assert sentence_bleu([["okay"]], ["okay"], n, compat="nltk-3.4.5") == 0.0
    # "a b" against "a c", BLEU-1: (1.5 + 0.5 + p2) / 3 with p2 = 1 / (1 + 5 / ln 2) (3.4.5) or ln 2 / 10 (now)
    old, now = (2 + 1 / (1 + 5 / math.log(2))) / 3, (2 + math.log(2) / 10) / 3
    assert math.isclose(sentence_bleu([["a", "c"]], ["a", "b"], 1, compat="nltk-3.4.5"), old, rel_tol=1e-12)
    assert math.isclose(sentence_bleu([["a", "c"]], ["a", "b"], 1, compat="nltk-now"), now, rel_tol=1e-12)

def test_sentence_bleu_default_is_the_installed_nltk():
    pytest.importorskip("nltk")
    refs, hyp = [["i", "do", "not", "think", "so"]], ["i", "think", "so"]
    for n in range(1, 5):
        assert math.isclose(sentence_bleu(refs, hyp, n), sentence_bleu(refs, hyp, n, compat="nltk-now"), rel_tol=1e-12)

def test_a_bad_swda_line_is_named(tmp_path):
    good = {"A": {"age": 40, "education": "2", "sex": "MALE"}, "B": {"age": 30, "education": "3", "sex": "FEMALE"},
            "topic": "X", "utts": [["A", "hi", ["x", []]], ["B", "hello", ["x", []]]]}
    f = tmp_path/"valid.jsonl"
    f.write_text(json.dumps(good) + "\n" + json.dumps({**good, "B": {"age": 30, "sex": "MALE"}}) + "\n")
    with pytest.raises(DataError, match=r"valid\.jsonl, line 2, speaker B: speaker metadata has no 'education'"):
        read_swda(f)
    f.write_text(json.dumps(good) + "\n" + "{not json\n")
    with pytest.raises(DataError, match=r"valid\.jsonl, line 2: not valid JSON"):
        read_swda(f)
