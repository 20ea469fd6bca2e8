"The real corpora, where SEQVAE_DATA holds them; each test skips, saying why, when its files are absent."
import pytest
from seqvae.data import load_corpus, UNK, DataError
from seqvae.sources import data_root, SOURCES, check_digest

def need(corpus, *files):
    missing = [f for f in files if not (data_root()/corpus/f).is_file()]
    if missing:
        pytest.skip(f"{corpus}: {', '.join(missing)} not in {data_root()/corpus} "
                    "(set SEQVAE_DATA to a folder holding them)")

@pytest.mark.parametrize("corpus,fname", [(c, f) for c, fs in SOURCES.items() for f, s in fs.items() if s.checksum])
def test_checksums(corpus, fname):
    need(corpus, fname)
    check_digest(data_root()/corpus/fname, SOURCES[corpus][fname].checksum)

def test_ptb():
    need("ptb", "ptb.valid.txt", "ptb.test.txt")
    c = load_corpus("ptb", split="auto", download=False)
    if "published" not in c.split_note:
        assert (len(c.train), len(c.valid) + len(c.test)) == (3370, 3761) and "ptb.train.txt missing" in c.split_note
    assert "<unk>" not in c.vocab.itos[4:] and c.vocab.index("<unk>") == UNK
    assert len(c.vocab) <= 10_000 and 19 < sum(map(len, c.valid)) / len(c.valid) < 23

def test_ptb_published_split_names_the_missing_file():
    need("ptb", "ptb.valid.txt")
    if (data_root()/"ptb"/"ptb.train.txt").exists(): pytest.skip("ptb.train.txt is present")
    with pytest.raises(FileNotFoundError, match="ptb.train.txt"): load_corpus("ptb", download=False)

def test_yahoo():
    need("yahoo", "yahoo.valid.txt")
    c = load_corpus("yahoo", split="auto", download=False)
    if "published" not in c.split_note: assert (len(c.train), len(c.valid), len(c.test)) == (9000, 500, 500)
    assert "_UNK" not in c.vocab.itos and c.vocab.index("_UNK") == UNK
    assert 70 < sum(map(len, c.train)) / len(c.train) < 90

def test_yelp_short_labels_follow_the_file_suffix():
    need("yelp_short", *(f"sentiment.{s}.{c}" for s in ("dev", "test") for c in (0, 1)))
    c = load_corpus("yelp_short", split="auto", download=False)
    if "published" not in c.split_note:
        assert c.labels["train"].count(0) == 50278 and c.labels["train"].count(1) == 76392
        assert len(c.valid) + len(c.test) == 25278 + 38205
    assert max(map(len, c.train)) <= 15 + 1 and set(c.labels["valid"]) == {0, 1}

def test_swda():
    need("swda", "valid.jsonl", "test.jsonl")
    c = load_corpus("swda", split="auto", download=False)
    assert len(c.train) > 1000 and len(c.valid) > 100 and len(c.test) > 100

def test_bad_lines_in_a_real_file_are_reported(tmp_path):
    need("ptb", "ptb.valid.txt")
    lines = (data_root()/"ptb"/"ptb.valid.txt").read_bytes().splitlines(True)
    (tmp_path/"train.txt").write_bytes(b"".join(lines[:100] + [b"\n"] + lines[100:200]))
    for s in ("valid", "test"): (tmp_path/f"{s}.txt").write_bytes(b"".join(lines[200:300]))
    with pytest.raises(DataError, match=r"train.txt, line 101: blank line"): load_corpus(str(tmp_path))
    c = load_corpus(str(tmp_path), on_bad="skip")
    assert len(c.train) == 200 and c.summary()["skipped_lines"] == 1
