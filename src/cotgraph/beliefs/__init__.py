"""Beliefs: the taxonomies of hypotheses a reasoning step can carry (``metagaming``, ``reasoning``, a user's YAML)."""

from cotgraph.beliefs.taxonomy import Belief, Taxonomy, TaxonomyError, load_taxonomy

__all__ = ["Belief", "Taxonomy", "TaxonomyError", "load_taxonomy"]
