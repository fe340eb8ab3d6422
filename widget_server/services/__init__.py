"""Business rules: plain functions with explicit arguments. They flush, never commit."""
