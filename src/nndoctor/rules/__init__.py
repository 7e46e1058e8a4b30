"""Built-in rules, one module per rule id, grouped by area. Every module here is imported
by `nndoctor.core.registry.load_rules()`; a rule registers itself with `@register`."""
