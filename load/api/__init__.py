"""The reference query-and-control API (``chakong serve``): one module per idea."""
