"""GitHub's home: the issue URL (`issue_ref`), web hosts (`hosts`), typed resources and the one client every GitHub
call of the product goes through (`ops`). Nothing here imports the flow."""
