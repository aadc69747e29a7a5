! The Fortran module's image functions (bindings/fortran/lvit.f90) against the installed library:
! a classify checkpoint's task and classes, lvit_classify's logits compared with the C API's on
! the same window (tests/fortran/classify_ref.c; same numbers to 1e-5 relative), and wrong calls
! that come back as LVIT_E_ARG and a message. Built and run by tests/cli_install.sh:
!   classify_test CHECKPOINT IN.raw EXPECTED.raw
program classify_test
  use, intrinsic :: iso_c_binding
  use lvit
  implicit none
  type(lvit_model) :: m
  character(4096) :: ckpt, fin, fexp
  real(c_float), allocatable :: x(:, :, :), logits(:), ref(:), small(:, :, :), seg(:, :, :)
  integer :: st, h, w, nv, k, u, nbytes
  real :: err, scale

  call get_command_argument(1, ckpt)
  call get_command_argument(2, fin)
  call get_command_argument(3, fexp)

  st = lvit_open(ckpt, m, threads=2)
  if (st /= LVIT_OK) then
    print *, 'open failed: ', lvit_last_error()
    stop 1
  end if
  st = lvit_grid(m, h, w)
  nv = lvit_num_inputs(m)
  k = lvit_num_classes(m)
  print '(a, a, a, i0, a, i0, a, i0, a, i0)', 'task ', lvit_task(m), ', bands ', nv, ', window ', h, 'x', w, &
    ', classes ', k
  if (lvit_task(m) /= 'classify' .or. k <= 0 .or. st /= LVIT_OK) then
    print *, 'not a classify model with classes'
    stop 1
  end if
  ! names as the C API gives them (1-based here); "" past the last class
  print '(a, a, a, a)', 'first class ', lvit_class_name(m, 1), ', last class ', lvit_class_name(m, k)
  if (len(lvit_class_name(m, 1)) == 0 .or. len(lvit_class_name(m, k + 1)) /= 0) then
    print *, 'class names: 1 is "', lvit_class_name(m, 1), '", K+1 is "', lvit_class_name(m, k + 1), '"'
    stop 1
  end if

  allocate(x(w, h, nv), logits(k), ref(k))
  ! the files must hold exactly the model's window and K logits: a short read would hide a wrong shape
  inquire(file=trim(fin), size=nbytes)
  if (nbytes /= 4 * size(x)) then
    print '(a, i0, a, i0)', 'IN.raw has bytes ', nbytes, '; the window takes ', 4 * size(x)
    stop 1
  end if
  inquire(file=trim(fexp), size=nbytes)
  if (nbytes /= 4 * k) then
    print '(a, i0, a, i0)', 'EXPECTED.raw has bytes ', nbytes, '; the classes take ', 4 * k
    stop 1
  end if
  open(newunit=u, file=trim(fin), access='stream', form='unformatted', status='old')
  read(u) x
  close(u)
  open(newunit=u, file=trim(fexp), access='stream', form='unformatted', status='old')
  read(u) ref
  close(u)

  st = lvit_classify(m, x, logits)
  if (st /= LVIT_OK) then
    print *, 'classify failed: ', lvit_last_error()
    stop 1
  end if
  scale = max(maxval(abs(ref)), 1e-30)
  err = maxval(abs(logits - ref)) / scale
  print '(a, es10.3, a, i0)', 'max relative difference from the C API: ', err, ', class ', maxloc(logits, 1) - 1
  if (.not. (err <= 1e-5)) stop 1

  ! failures are statuses and messages, not a stopped program
  allocate(small(w - 1, h, nv))
  st = lvit_classify(m, small, logits)
  if (st /= LVIT_E_ARG .or. index(lvit_last_error(), 'sizes x') == 0) then
    print *, 'a wrongly sized x gave status ', st, ': ', lvit_last_error()
    stop 1
  end if
  allocate(seg(w, h, k))
  st = lvit_segment(m, x, seg)
  if (st /= LVIT_E_ARG .or. index(lvit_last_error(), '"classify"') == 0) then
    print *, 'lvit_segment on a classify model gave status ', st, ': ', lvit_last_error()
    stop 1
  end if
  call lvit_close(m)
  print '(a)', 'fortran classify ok'
end program classify_test
