"""What integrators use beside the box: the reference API client (``client``, with its
Tablet and Replica), the lunch-rush simulator (``appliance simulate``) and the reference
back office (``appliance backoffice serve``)."""
