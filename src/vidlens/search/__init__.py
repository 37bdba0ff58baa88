"""Search (issue 6, in progress): text queries matched to what the video shows.

So far: :mod:`vidlens.search.conse`, which places an image's ImageNet probabilities in the sentence
embedding space so words that no label contains ("feline", "hot drink") can still find it.
"""
