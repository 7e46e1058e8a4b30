"""The HF Trainer run of hf_bert_trainer.py with nndoctor's explicit callback instead of `nndoctor run`:

    from nndoctor.integrations.transformers import NNDoctorCallback
    doctor = NNDoctorCallback()
    trainer = Trainer(..., callbacks=[doctor]); trainer.train()
    doctor.report   # the same Report `nndoctor run` would give

    python hf_trainer_callback.py --report-json OUT.json [--bug NAME]
"""
import argparse
import tempfile

from hf_bert_trainer import BUGS, make_trainer, tiny_bert
from nndoctor.integrations.transformers import NNDoctorCallback


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bug", choices=BUGS, default="none")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--report-json", required=True)
    args = parser.parse_args()
    doctor = NNDoctorCallback()
    with tempfile.TemporaryDirectory() as output_dir:
        trainer = make_trainer(tiny_bert(args.bug), output_dir, args.bug, args.epochs, callbacks=[doctor])
        trainer.train()
    doctor.report.to_json(args.report_json)
    for finding in doctor.report.findings:
        print(finding.severity, finding.rule, finding.message)


if __name__ == "__main__":
    main()
