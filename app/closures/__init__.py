"""Orderly closure: notice to every holder, their choices, successors and the move of cards."""
