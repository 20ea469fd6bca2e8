"""Hostile inputs to the `seqvae` command, as a user types them: each is refused with exit status 2 and one line that
names the file or setting, never a Python traceback, and nothing already there is lost."""
import json
import shutil
import pytest
from conftest import seqvae

SMALL = ["--corpus", "synthetic", "--max-train", "200", "--emb-dim", "8", "--hidden-dim", "8", "--latent-dim", "2",
         "--device", "cpu", "--threads", "1", "--beta-kind", "constant"]

@pytest.fixture(scope="module")
def run(tmp_path_factory):
    "A small trained run folder."
    out = tmp_path_factory.mktemp("run")/"r"
    r = seqvae("train", "--out", str(out), "--epochs", "1", *SMALL)
    assert r.returncode == 0, r.stderr
    return out

def refused(r, *needles):
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    for n in needles: assert n in r.stderr, (n, r.stderr)

def test_bad_settings_are_named_before_anything_runs(tmp_path):
    refused(seqvae("train", "--out", str(tmp_path/"a"), "--lr", "nan", *SMALL), "TrainConfig.lr", "finite")
    refused(seqvae("train", "--out", str(tmp_path/"a"), "--lr", "fast", *SMALL), "TrainConfig.lr", "'fast'")
    refused(seqvae("train", "--out", str(tmp_path/"a"), "--lr", "inf", *SMALL), "TrainConfig.lr")
    refused(seqvae("train", "--out", str(tmp_path/"a"), *SMALL, "--device", "tpu"), "TrainConfig.device")
    refused(seqvae("train", "--out", str(tmp_path/"a"), *SMALL, "--beta-kind", "cyclical", "--max-steps", "3"),
            "the run takes 3 step(s)", "fewer cycles")
    assert not (tmp_path/"a").exists()                                     # refused before the folder was made
    refused(seqvae("reproduce", "--scale", "smoke", "--only", "lm_schedules", "--out", str(tmp_path/"r"),
                   "-p", "seed=abc"), "parameter seed must be a int")
    refused(seqvae("reproduce", "--only", "lm_schedules", "-p", "out_dir=/somewhere"), "give the folder as --out")

def test_broken_checkpoints_and_run_folders_are_named(run, tmp_path):
    (tmp_path/"empty.pt").write_bytes(b"")
    refused(seqvae("evaluate", str(tmp_path/"empty.pt")), "empty.pt: not a loadable seqvae checkpoint")
    refused(seqvae("evaluate", str(tmp_path)), "is a folder, not a checkpoint")
    refused(seqvae("evaluate", str(run/"best.pt"), "--device", "tpu"), "device 'tpu' is not a device")
    refused(seqvae("evaluate", str(run/"best.pt"), "--n-iw", "-3"), "--n-iw must be >= 0")
    copy = tmp_path/"copy"
    shutil.copytree(run, copy)
    (copy/"run.json").write_text("{not json")
    refused(seqvae("evaluate", str(copy/"best.pt")), "run.json: not a valid run record")

def test_resume_and_overwrite_lose_nothing(run, tmp_path):
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    refused(seqvae("train", "--out", str(run), "--epochs", "1", *SMALL), "holds a run")
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before   # run.json, vocab.json intact
    refused(seqvae("train", "--out", str(tmp_path/"new"), "--resume", "--epochs", "1", *SMALL), "no checkpoint")
    refused(seqvae("train", "--out", str(run), "--resume", "--epochs", "2", *SMALL, "--corpus-seed", "1"),
            "trained on other data")
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before

def test_unknown_words_relative_paths_and_broken_records(tmp_path):
    corp = tmp_path/"corp"
    corp.mkdir()
    (corp/"train.txt").write_text("a b c\nb c a\n" * 20)
    (corp/"valid.txt").write_text("a b\n" * 5)
    (corp/"test.txt").write_text("x y z\n" * 5)                 # every test word is unknown to the vocabulary
    r = seqvae("train", "--out", "run", "--corpus", "corp", "--epochs", "1", *SMALL[2:], cwd=tmp_path)   # relative
    assert r.returncode == 0, r.stderr
    e = seqvae("evaluate", str(tmp_path/"run"/"best.pt"), "--n-iw", "2")      # from another folder
    assert e.returncode == 0 and "100% of the test tokens are unknown words" in e.stderr, e.stderr
    assert json.loads((tmp_path/"run"/"metrics_test_best.json").read_text())["unk_rate"] == 1.0
    out = tmp_path/"repro"
    out.mkdir()
    (out/"reproduce.json").write_text("{")
    refused(seqvae("reproduce", "--scale", "smoke", "--only", "corpus_overview", "--out", str(out)),
            "reproduce.json: not a valid record of `seqvae reproduce`")

def test_checksums_of_a_data_folder(tmp_path):
    (tmp_path/"ptb").mkdir()
    (tmp_path/"ptb"/"ptb.valid.txt").write_text("not the published file\n")
    r = seqvae("checksums", str(tmp_path))
    assert r.returncode == 1 and "ptb/ptb.valid.txt" in r.stdout and "DIFFERS from sha256:c9fe6985" in r.stdout, r
    refused(seqvae("checksums", str(tmp_path/"nothing")), "no corpus folders with files")

DIALOG = {"A": {"age": 47, "education": " 2", "sex": ' "MALE"'}, "B": {"age": 53, "education": " 1", "sex": ' "FEMALE"'},
          "topic": '"MUSIC"', "utts": [["A", "w37 do you like it", ["yes-no-question", [0, 1, 0, 0]]],
                                       ["B", "w37 i do", ["yes_answers", [0, 1, 0, 0]]]]}

def test_a_byte_order_mark_is_not_a_word(tmp_path):
    "Corpus, label and Switchboard files saved with a UTF-8 BOM and CRLF line ends read as the same files without."
    from seqvae.data import load_corpus
    from seqvae.dialog.data import load_dialog_corpus
    text = {s: "".join(f"w37 w{(7 * k + i) % 40} x{k % 5}\n" for k in range(30))
            for i, s in enumerate(("train", "valid", "test"))}
    def save(path, s, bom, nl):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(bom + s.replace("\n", nl).encode("utf-8"))
    for name, bom, nl in (("plain", b"", "\n"), ("windows", b"\xef\xbb\xbf", "\r\n")):
        root = tmp_path/name
        for s, t in text.items():
            save(root/"folder"/f"{s}.txt", t, bom, nl)                       # a corpus folder
            save(root/"folder"/f"{s}.labels", "".join(f"{k % 2}\n" for k in range(30)), bom, nl)
            save(root/"ptb"/f"ptb.{s}.txt", t, bom, nl)                      # a named corpus
            save(root/"swda"/f"{s}.jsonl", (json.dumps(DIALOG) + "\n") * 3, bom, nl)   # Switchboard JSON lines
    corpora = {name: [load_corpus(str(tmp_path/name/"folder")), load_corpus("ptb", root=tmp_path/name, download=False),
                      load_corpus("swda", root=tmp_path/name, download=False)] for name in ("plain", "windows")}
    for plain, windows in zip(corpora["plain"], corpora["windows"]):
        assert windows.vocab.itos == plain.vocab.itos and windows.train == plain.train, windows.vocab.itos
        assert windows.labels == plain.labels and "w37" in windows.vocab.itos
        assert not any("\ufeff" in w for w in windows.vocab.itos)
    dialogs = {name: load_dialog_corpus("swda", root=tmp_path/name) for name in ("plain", "windows")}
    assert dialogs["windows"].vocab.itos == dialogs["plain"].vocab.itos and "w37" in dialogs["windows"].vocab.itos
    r = seqvae("train", "--out", str(tmp_path/"run"), "--corpus", str(tmp_path/"windows"/"folder"), "--max-steps", "1",
               *SMALL[2:])                                                   # and from the command line
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path/"run"/"vocab.json").read_text())["itos"] == corpora["plain"][0].vocab.itos
