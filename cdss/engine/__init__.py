"""The engines: compiled knowledge in, results out.

`evaluate(case, knowledge, engine="durable") -> Result` is the one entry point to a result behind the CLI,
batch, the service and the audit's witness cases. Audit coverage alone goes one level down: it also reads what
fired and the facts derived on the way, so it calls the same evaluator's `run` and then the same result-level
policies (`policies.build_result`) that `evaluate` calls. The compiler lays the rules out for durable-rules
(the reference engine, `durable`); the direct engine (`direct`) evaluates the same compiled strata without it.
Both fire rules in the same order (cdss/engine/firing.py) and give byte-identical results; the result-level
policies turn what fired into a result.
"""

from cdss.engine.registry import DEFAULT_ENGINE, ENGINES, EVALUATORS, evaluate, evaluator_for

__all__ = ["evaluate", "evaluator_for", "EVALUATORS", "ENGINES", "DEFAULT_ENGINE"]
