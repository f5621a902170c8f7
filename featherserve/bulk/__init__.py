"""Bulk scoring from the command line: ``featherserve predict`` runs the bulk function's
pipeline on this machine; ``featherserve batch submit`` goes through a deployed stage."""
