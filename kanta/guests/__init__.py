"""Guest links: a host shares one link per event; guests holding its token upload, find their
photos by selfie and see the gallery, within the rights the link gives, until it expires."""
