"""The engine: compiled knowledge in, results out.

`evaluate(case, knowledge) -> Result` is the one entry point behind the CLI, batch, audit and service.
The compiler lays the rules out for durable-rules (the reference engine), the driver runs them with every
known durable-rules trap guarded, and the result-level policies turn what fired into a result.
"""

from cdss.engine.durable import Evaluator, evaluate, evaluator_for

__all__ = ["evaluate", "evaluator_for", "Evaluator"]
