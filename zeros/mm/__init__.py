"""Physical memory management: the frame allocator, the paging-structure writer, boot."""
