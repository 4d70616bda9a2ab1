"""The migration plan, pure: simulate every pod and template, decide each namespace's level.

`checking` judges one object; `simulate` judges a namespace's templates and pods; `today`
decides which PSP admits each template's pods now (or why none does); `decide` builds the
plan (floors, ceilings, labels, blockers); `survey` is what `inventory` shows;
`dryrun` reads the API server's dry-run warnings and compares them with the plan.
"""
