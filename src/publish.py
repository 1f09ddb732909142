"""Publish the bundled checkpoints to the Hugging Face Hub.

    hf auth login                                   # a token with write access
    python -m src.publish --owner YOUR_NAME         # all four models, tagged v1
    python -m src.publish --dry-run /tmp/staged     # write exactly what would be pushed, push nothing

Each folder is loaded strictly and pushed with PyTorchModelHubMixin.push_to_hub, which writes config.json,
model.safetensors, metrics.json and the model card; the new commit is then tagged with the revision that
src.hub pins (v1), so `load_model` picks it up; a repo that has that tag already is refused before anything
is pushed. Point the app at your repos with e.g.
DIGIT_BILSTM_REPO=YOUR_NAME/digit-bilstm, or change the defaults in src.hub.MODELS.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from huggingface_hub import HfApi, constants

from src.hub import MODELS, bundled_folder, load_folder, override_names


class TagTakenError(RuntimeError):
    """The repo already has the tag a publish would give its new commit."""


def publish(name: str, repo_id: str, tag: str, private: bool = False) -> str:
    """Push one bundled checkpoint and tag the commit; returns the commit id. Refuses, before pushing
    anything, when the repo already has `tag`: the push would succeed and the tag then fail, leaving the
    pinned revision on the old commit."""
    model, api = load_folder(MODELS[name].cls, bundled_folder(name)), HfApi()
    if api.revision_exists(repo_id, tag):
        raise TagTakenError(f"{repo_id} already has a revision named {tag!r}; publish under a new tag "
                            f"(--tag) and pin it (src.hub.MODELS or the {override_names(name)[1]} variable)")
    commit = model.push_to_hub(repo_id, private=private, commit_message=f"{name}: {model.metrics.get('command', '')}")
    api.create_tag(repo_id, tag=tag, revision=commit.oid, exist_ok=False)
    return commit.oid


def stage(name: str, out: Path) -> list[str]:
    """Write what push_to_hub would upload for one model into out/name; returns the file names."""
    model = load_folder(MODELS[name].cls, bundled_folder(name))
    model.save_pretrained(out / name)
    return sorted(p.name for p in (out / name).iterdir())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", default=list(MODELS), help="models to publish (default: all)")
    parser.add_argument("--owner", help="Hub user or organisation (default: the one in src.hub.MODELS)")
    parser.add_argument("--tag", default="v1", help="tag for the new commit, the revision src.hub pins")
    parser.add_argument("--private", action="store_true")
    parser.add_argument("--dry-run", type=Path, metavar="DIR", help="stage the folders in DIR instead")
    args = parser.parse_args(argv)
    for name in args.names:
        if args.dry_run:
            print(name, "->", args.dry_run / name, stage(name, args.dry_run))
            continue
        repo_id = f"{args.owner}/{name}" if args.owner else MODELS[name].repo_id
        try:
            commit = publish(name, repo_id, args.tag, args.private)
        except TagTakenError as error:
            parser.exit(1, f"{parser.prog}: {error}\n")
        print(f"{name} -> {constants.ENDPOINT}/{repo_id} @ {args.tag} ({commit})")


if __name__ == "__main__":
    main()
