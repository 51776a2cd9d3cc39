"""The self-contained HTML report of a results folder, its figures, and the PNG plots of a
run. Figures are :class:`matplotlib.figure.Figure` objects: importing this package never
switches the caller's matplotlib backend."""
