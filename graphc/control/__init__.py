"""Control flow (API.md section 9): cond, while_loop, scan and fori_loop, on graph nodes and on
eager tensors."""
