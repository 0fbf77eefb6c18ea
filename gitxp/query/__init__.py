"""Reading runs: frames, the derived cache, listing, diff, export, plots and the run view."""
