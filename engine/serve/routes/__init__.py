"""The endpoints, one router per subject; :func:`engine.serve.api.create_app` mounts them."""
