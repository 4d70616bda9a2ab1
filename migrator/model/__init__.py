"""The data the rest of the program shares, pure: the inventory, workloads, owners, the
admission configuration, and the serialisation of documents.
"""
