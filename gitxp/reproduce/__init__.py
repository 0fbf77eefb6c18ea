"""Re-running a recorded run in a clean worktree and judging whether it matched."""
