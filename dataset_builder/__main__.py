"""`python -m dataset_builder`: the same as the `dataset-builder` command."""

from dataset_builder.cli import main

main()
