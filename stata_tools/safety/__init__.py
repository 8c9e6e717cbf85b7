"""What keeps a run safe: the command policy, the guard, the allowed roots, the sandbox."""
