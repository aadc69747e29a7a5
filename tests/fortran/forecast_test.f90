! The Fortran module (bindings/fortran/lvit.f90) against the installed library: metadata, a
! forecast compared with lvit predict's (same numbers to 1e-5 relative), and an error that
! comes back as a status and a message (a wrong size, a wrong shape). Built and run by tests/cli_install.sh:
!   forecast_test CHECKPOINT IN.raw LEAD_HOURS EXPECTED.raw
program forecast_test
  use, intrinsic :: iso_c_binding
  use lvit
  implicit none
  type(lvit_model) :: m, bad
  character(4096) :: ckpt, fin, fexp, arg
  real(c_float), allocatable :: x(:, :, :), y(:, :, :), ref(:, :, :), small(:, :, :), xt(:, :, :)
  real(c_double), allocatable :: lat(:)
  real :: lead
  integer :: st, h, w, nv, v, u
  real :: err, scale

  call get_command_argument(1, ckpt)
  call get_command_argument(2, fin)
  call get_command_argument(3, arg)
  read(arg, *) lead
  call get_command_argument(4, fexp)

  st = lvit_open(ckpt, m, threads=2)
  if (st /= LVIT_OK) then
    print *, 'open failed: ', lvit_last_error()
    stop 1
  end if
  st = lvit_grid(m, h, w)
  nv = lvit_num_inputs(m)
  print '(a, a, a, i0, a, i0, a, i0)', 'task ', lvit_task(m), ', variables ', nv, ', grid ', h, 'x', w
  do v = 1, nv
    print '(a, i0, a, a)', '  variable ', v, ': ', lvit_var_name(m, v)
  end do
  call lvit_lat(m, lat)
  if (allocated(lat)) print '(a, f8.3)', '  first latitude ', lat(1)

  allocate(x(w, h, nv), y(w, h, lvit_num_outputs(m)), ref(w, h, lvit_num_outputs(m)))
  open(newunit=u, file=trim(fin), access='stream', form='unformatted', status='old')
  read(u) x
  close(u)
  open(newunit=u, file=trim(fexp), access='stream', form='unformatted', status='old')
  read(u) ref
  close(u)

  st = lvit_forecast(m, x, lead, y)
  if (st /= LVIT_OK) then
    print *, 'forecast failed: ', lvit_last_error()
    stop 1
  end if
  scale = max(maxval(abs(ref)), 1e-30)
  err = maxval(abs(y - ref)) / scale
  print '(a, es10.3)', 'max relative difference from lvit predict: ', err
  if (.not. (err <= 1e-5)) stop 1

  ! failures are statuses and messages, not a stopped program
  allocate(small(w - 1, h, nv))
  st = lvit_forecast(m, small, lead, y)
  if (st /= LVIT_E_ARG .or. index(lvit_last_error(), 'x has') == 0) then
    print *, 'a wrongly sized array gave status ', st, ': ', lvit_last_error()
    stop 1
  end if
  ! the right size in the wrong shape: x(H, W, V) instead of x(W, H, V) (the grid is 15x30)
  allocate(xt(h, w, nv))
  xt = 0
  st = lvit_forecast(m, xt, lead, y)
  if (st /= LVIT_E_ARG .or. index(lvit_last_error(), 'expected (W, H, V)') == 0) then
    print *, 'a transposed array gave status ', st, ': ', lvit_last_error()
    stop 1
  end if
  st = lvit_open('/nonexistent/model.safetensors', bad)
  if (st /= LVIT_E_IO .or. index(lvit_last_error(), '/nonexistent/model.safetensors') == 0) then
    print *, 'a missing file gave status ', st, ': ', lvit_last_error()
    stop 1
  end if
  call lvit_close(m)
  print '(a)', 'fortran forecast ok'
end program forecast_test
