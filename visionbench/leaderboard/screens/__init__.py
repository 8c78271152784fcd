"""Page scripts that ``st.navigation`` runs; each calls the ``render`` of its module in ``views``."""
