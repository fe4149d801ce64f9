"""The `tcpsleuth run` configuration the live tests start the sensor with: no hugepages
(EAL --no-huge), events to a file, no control socket unless one is asked for. Each test
says only what differs from that."""
import atexit
import glob
import shutil


def remove_runtime_dirs_at_exit(*patterns):
    """EAL leaves /var/run/dpdk/PREFIX behind when its process ends; a test registers the
    prefixes it uses (glob patterns) and they go when it exits, whatever the outcome."""
    def remove():
        for pattern in patterns:
            for d in glob.glob(f"/var/run/dpdk/{pattern}"):
                shutil.rmtree(d, ignore_errors=True)
    atexit.register(remove)


def write_sensor_config(path, *, devices, events, prefix, mode="tap", memory_mb=512, mbufs=4095, mbuf_size=None,
                        workers=1, socket="", capacity=8192, report="none", control_extra="", output_extra="",
                        extra=""):
    """Writes the configuration to `path`. `devices`: the ports' DPDK device strings, in order."""
    ports = "".join(f'[[ports]]\ndevice = "{d}"\n' for d in devices)
    with open(path, "w") as f:
        f.write(f'''mode = "{mode}"
[dpdk]
eal_args = ["--no-huge", "-m", "{memory_mb}", "--no-pci", "--no-shconf", "--file-prefix", "{prefix}"]
mbufs_per_port = {mbufs}
{f"mbuf_size = {mbuf_size}" if mbuf_size else ""}
[workers]
count = {workers}
idle_sleep_us = 50
{ports}[control]
socket = "{socket}"
{control_extra}
[output]
events = "{events}"
report = "{report}"
{output_extra}
[flows]
capacity = {capacity}
{extra}''')
