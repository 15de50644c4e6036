"""Activities: one module per lifecycle step. Each is a method of a class holding its clients."""
