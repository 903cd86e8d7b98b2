"""CCSDS protocol codecs: pure functions over bytes, no I/O.

Space packets (133.0-B-2), CUC time (301.0-B-4), TM and TC transfer frames
(132.0-B-3, 232.0-B-4), CLTUs and the streaming deframer.
"""
