"""The LangGraph repair loop and its planners."""
