from django.dispatch import Signal

# Sent before a CatalogSource is deleted. Receivers (apps above clusters, such as
# assets) return a list of human-readable reasons it is still in use; any reason
# refuses the deletion. Keeps clusters from importing the apps that depend on it.
catalog_source_usage = Signal()
