"""The engines: compiled knowledge in, results out.

`evaluate(case, knowledge, engine="durable") -> Result` is the one entry point behind the CLI, batch, audit
and service. The compiler lays the rules out for durable-rules (the reference engine, `durable`); the
direct engine (`direct`) evaluates the same compiled strata without it. Both fire rules in the same order
(cdss/engine/firing.py) and give byte-identical results; the result-level policies turn what fired into a
result.
"""

from cdss.engine.registry import DEFAULT_ENGINE, ENGINES, EVALUATORS, evaluate, evaluator_for

__all__ = ["evaluate", "evaluator_for", "EVALUATORS", "ENGINES", "DEFAULT_ENGINE"]
