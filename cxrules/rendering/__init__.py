"""Pictures and documents made from an org: graphs, the HTML report."""
