"""One run configuration: `seqvae train` and the experiment presets build equal configs (and models) for equal
settings, and the length of a run's beta schedule is the number of optimizer steps it takes."""
import torch
from seqvae.train.builder import build
from seqvae.cli import _parser, args_config
from seqvae.lab.presets import override, preset

def test_the_command_line_and_the_presets_build_equal_configs():
    p = preset("smoke", "lm_schedules")
    from_preset = override(p.run_config(seed=3, device="cpu", threads=1), kind="monotonic", ratio=p.warmup)
    args = _parser().parse_args([
        "train", "--out", "unused", "--corpus", "synthetic", "--corpus-seed", "3", "--max-train", "1000",
        "--max-eval", "100", "--batch-size", "32", "--emb-dim", "16", "--hidden-dim", "32", "--latent-dim", "4",
        "--dec-in-dropout", "0.0", "--dec-out-dropout", "0.0", "--init-range", "0.1", "--epochs", "none",
        "--max-steps", "200", "--lr", "3e-3", "--aggressive-max-inner", "5", "--checkpoint-every", "20",
        "--log-every", "none", "--seed", "3", "--device", "cpu", "--threads", "1", "--no-progress",
        "--no-use-valid", "--beta-kind", "monotonic", "--beta-total-steps", "none", "--beta-ratio", "0.25"])
    from_cli = args_config(args)
    assert from_cli == from_preset, [(k, getattr(from_cli, k), getattr(from_preset, k)) for k in
                                     ("data", "model", "train", "schedule", "model_kind", "use_valid")
                                     if getattr(from_cli, k) != getattr(from_preset, k)]
    a, b = build(from_cli), build(from_preset)
    assert a.total_steps == b.total_steps == 200
    assert all(torch.equal(x, y) for x, y in zip(a.model.state_dict().values(), b.model.state_dict().values()))

def test_the_beta_schedule_spans_the_steps_the_run_takes():
    p = preset("smoke", "lm_schedules", max_steps=0, epochs=2, max_train=200)
    run = build(override(p.run_config(), kind="cyclical", n_cycles=2))
    seen = []
    h = run.fit(callbacks=[lambda event, tr: seen.append(tr.schedule.cfg.total_steps) if event == "step" else None])
    assert len(seen) == run.total_steps == 2 * len(run.train_batches) and set(seen) == {run.total_steps}
    assert h.train["step"][-1] == run.total_steps
