"""The one async link between a review session and its backend (the app's and the bench's).

:class:`~rptui.session.link.backend_link.BackendLink` holds the backend: calls with
timeouts, offline and reconnect, training and its sync into the project, and the masks
(:mod:`rptui.session.link.masks`: pre-segmentation requests, the wait for the image on
screen, uncertainty scores). It tells a listener what happened as typed events
(:mod:`rptui.session.link.events`) and imports no UI.
"""
