"""smolagents' CodeAgent and ToolCallingAgent as arms, written through the --agent seam (agents.external): their model
is the benchmark's metered endpoint, their tools the task's over the same ledger, the CodeAgent's code run in the
benchmark's own sandbox. smolagents is imported only when one of them runs."""
