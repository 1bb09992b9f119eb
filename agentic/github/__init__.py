"""GitHub's home: the issue URL (`issue_ref`), web hosts (`hosts`), typed resources (`models`) and the one client
every GitHub call of the product goes through (`client`: the `GitHubClient` Protocol; `HubGitHub` through the hub,
`GitHubRest` in `rest` for the receiver) or, for the poller, `comments.CommentFeed` (conditional, paged listings of a
repository's comments). Nothing here imports the flow."""
