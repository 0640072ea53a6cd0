"""What machine a measurement was made on, for the records that training and benchmarks write."""
import os
import platform

import torch


def cpu_name():
    """The processor's model name where Linux tells it (platform.processor() often does not)."""
    try:
        with open('/proc/cpuinfo') as file:
            for line in file:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_name(device):
    """The GPU's name on CUDA, else the CPU's."""
    device = torch.device(device)
    return torch.cuda.get_device_name(device) if device.type == 'cuda' else cpu_name()


def machine(device):
    """Platform, processor, threads, torch version and device of a run."""
    device = torch.device(device)
    return {'platform': platform.platform(), 'cpu': cpu_name(), 'cpu_count': os.cpu_count(),
            'torch_threads': torch.get_num_threads(), 'torch': torch.__version__,
            'device': torch.cuda.get_device_name(device) if device.type == 'cuda' else 'cpu'}
