"""The dashboard's pages, one module each, plus what they share (``common``) and the run details (``details``)."""
