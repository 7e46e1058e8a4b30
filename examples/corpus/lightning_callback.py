"""The Lightning run of lightning_classifier.py with nndoctor's explicit callback instead of `nndoctor run`:

    from nndoctor.integrations.lightning import NNDoctorCallback
    doctor = NNDoctorCallback()
    trainer = L.Trainer(..., callbacks=[doctor]); trainer.fit(model, ...)
    doctor.report   # the same Report `nndoctor run` would give

    python lightning_callback.py --report-json OUT.json [--bug NAME]
"""
import argparse

import lightning as L

from lightning_classifier import BUGS, LitClassifier, loaders
from nndoctor.integrations.lightning import NNDoctorCallback


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bug", choices=BUGS, default="none")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--report-json", required=True)
    args = parser.parse_args()
    L.seed_everything(0, verbose=False)
    train_loader, val_loader = loaders()
    doctor = NNDoctorCallback()
    trainer = L.Trainer(max_epochs=args.epochs, accelerator="cpu", devices=1, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                        callbacks=[doctor])
    trainer.fit(LitClassifier(bug=args.bug), train_loader, val_loader)
    doctor.report.to_json(args.report_json)
    for finding in doctor.report.findings:
        print(finding.severity, finding.rule, finding.message)


if __name__ == "__main__":
    main()
