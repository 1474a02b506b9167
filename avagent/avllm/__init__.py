"""Audio-visual LLM assembly, trainer and evaluator (Crab / Crab+ / Dolphin designs)."""
