"""The page templates of the rendering stage (HTML, JS, CSS), installed as ``cotgraph.viz``.

``cotgraph.render`` reads them with ``importlib.resources``; nothing here is imported as code.
"""
