"""The rule groups, one module per family; each reads its windows and levels from mixin/."""
