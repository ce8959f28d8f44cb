import os

from django.core.wsgi import get_wsgi_application

from keiyaku.operations.allocator import allocator_configure
from keiyaku.operations.warm_up import start_up_objects_freeze, web_worker_warm_up

allocator_configure()  # large files: see the module
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "keiyaku.settings")
application = get_wsgi_application()
web_worker_warm_up()  # views and PDFium loaded now, not by the first requests: see the module
start_up_objects_freeze()  # out of the collector's full collections: see the function
