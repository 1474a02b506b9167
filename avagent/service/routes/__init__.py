"""One router per resource; `avagent.service.app` includes them."""
